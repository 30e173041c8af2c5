db "etcd" {
install {
packages=["etcd-server"]
}
daemon "etcd" {
command="/usr/bin/etcd"
args=[
"--name",node.name,
]
ready {
tcp_port=2379
}
}
}


phase "main" {
  clients = stagger("50ms",mix([operation.read,operation.write]))
}
