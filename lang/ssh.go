package lang

import "github.com/hashicorp/hcl/v2"

// SSH holds how jplan logs in to nodes over SSH. Every argument may refer to
// the node being connected to (node.name, node.host), so a plan can give
// nodes different ports or users.
type SSH struct {
	User                  hcl.Expression
	Port                  hcl.Expression
	PrivateKeyFile        hcl.Expression
	Password              hcl.Expression
	KnownHostsFile        hcl.Expression
	InsecureIgnoreHostKey hcl.Expression
	Agent                 hcl.Expression
	Sudo                  hcl.Expression
	SudoPassword          hcl.Expression
	ConnectTimeout        hcl.Expression

	DeclRange hcl.Range
}

var sshSchema = registerSchema("ssh", Schema{Attrs: []AttrSpec{
	{Name: "user", Doc: `login user (default "root")`},
	{Name: "port", Doc: "port (default 22)"},
	{Name: "private_key_file", Doc: "path of a private key"},
	{Name: "password", Doc: "password, for password or keyboard-interactive login"},
	{Name: "known_hosts_file", Doc: "known_hosts for strict host key checking"},
	{Name: "insecure_ignore_host_key", Doc: "accept any host key"},
	{Name: "agent", Doc: "use ssh-agent via SSH_AUTH_SOCK"},
	{Name: "sudo", Doc: "run node commands through sudo"},
	{Name: "sudo_password", Doc: "password for sudo -S"},
	{Name: "connect_timeout", Doc: "how long to wait for a connection"},
}})

func decodeSSH(blk *hcl.Block) (*SSH, hcl.Diagnostics) {
	c, diags := sshSchema.content(blk.Body, "ssh")
	return &SSH{
		User:                  expr(c, "user"),
		Port:                  expr(c, "port"),
		PrivateKeyFile:        expr(c, "private_key_file"),
		Password:              expr(c, "password"),
		KnownHostsFile:        expr(c, "known_hosts_file"),
		InsecureIgnoreHostKey: expr(c, "insecure_ignore_host_key"),
		Agent:                 expr(c, "agent"),
		Sudo:                  expr(c, "sudo"),
		SudoPassword:          expr(c, "sudo_password"),
		ConnectTimeout:        expr(c, "connect_timeout"),
		DeclRange:             blk.DefRange,
	}, diags
}

// Docker holds how jplan reaches nodes that are containers without sshd,
// through docker exec and docker cp (test.remote = "docker").
type Docker struct {
	// Container names the container of a node; default node.name.
	Container hcl.Expression
	User      hcl.Expression

	DeclRange hcl.Range
}

var dockerSchema = registerSchema("docker", Schema{Attrs: []AttrSpec{
	{Name: "container", Doc: "container name of a node"},
	{Name: "user", Doc: "user commands run as"},
}})

func decodeDocker(blk *hcl.Block) (*Docker, hcl.Diagnostics) {
	c, diags := dockerSchema.content(blk.Body, "docker")
	return &Docker{Container: expr(c, "container"), User: expr(c, "user"), DeclRange: blk.DefRange}, diags
}
