# Rendered by jplan for every node (examples/redis-lost-writes.hcl).
bind 0.0.0.0
protected-mode no
port 6379
dir ${dir}
# Every write goes to the append-only file, which Redis never fsyncs: it
# leaves that to the kernel, and acknowledges writes before they are on
# disk.
appendonly yes
appendfsync ${appendfsync}
save ""
