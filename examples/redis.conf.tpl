# Rendered by jplan for every node (examples/redis.hcl).
bind 0.0.0.0
protected-mode no
port 6379
dir /var/lib/jplan/redis
appendonly no
save ""
%{ if !is_primary ~}
replicaof ${primary} 6379
replica-read-only yes
%{ endif ~}
