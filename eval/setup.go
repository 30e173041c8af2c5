package eval

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
)

// SSHConfig is the ssh block evaluated for one node.
type SSHConfig struct {
	User                  string
	Port                  int
	PrivateKeyFile        string
	Password              string
	KnownHostsFile        string
	InsecureIgnoreHostKey bool
	Agent                 bool
	Sudo                  bool
	SudoPassword          string
	ConnectTimeout        time.Duration
}

// SSH evaluates the ssh block for a node (nil: unknown node).
func (e *Evaluator) SSH(n *Node) (SSHConfig, hcl.Diagnostics) {
	c := SSHConfig{User: "root", Port: 22, Agent: true, ConnectTimeout: 10 * time.Second}
	s := e.Plan.SSH
	if s == nil {
		return e.opts.Inputs.sshOverride().apply(c).withNode(n), nil
	}
	ctx := e.NodeContext(n)
	var diags, ds hcl.Diagnostics
	c.User, ds = str(s.User, ctx, "user", c.User)
	diags = append(diags, ds...)
	c.Port, ds = integer(s.Port, ctx, "port", c.Port, 1, 65535)
	diags = append(diags, ds...)
	c.PrivateKeyFile, ds = str(s.PrivateKeyFile, ctx, "private_key_file", "")
	diags = append(diags, ds...)
	c.Password, ds = str(s.Password, ctx, "password", "")
	diags = append(diags, ds...)
	c.KnownHostsFile, ds = str(s.KnownHostsFile, ctx, "known_hosts_file", "")
	diags = append(diags, ds...)
	c.InsecureIgnoreHostKey, ds = boolean(s.InsecureIgnoreHostKey, ctx, "insecure_ignore_host_key", false)
	diags = append(diags, ds...)
	c.Agent, ds = boolean(s.Agent, ctx, "agent", c.Agent)
	diags = append(diags, ds...)
	c.Sudo, ds = boolean(s.Sudo, ctx, "sudo", false)
	diags = append(diags, ds...)
	c.SudoPassword, ds = str(s.SudoPassword, ctx, "sudo_password", "")
	diags = append(diags, ds...)
	c.ConnectTimeout, ds = duration(s.ConnectTimeout, ctx, "connect_timeout", c.ConnectTimeout, false)
	diags = append(diags, ds...)
	if s.KnownHostsFile != nil && s.InsecureIgnoreHostKey != nil && c.InsecureIgnoreHostKey && c.KnownHostsFile != "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting host key settings",
			Detail:  "known_hosts_file asks for strict host key checking and insecure_ignore_host_key turns it off; choose one.",
			Subject: s.InsecureIgnoreHostKey.Range().Ptr()})
	}
	return e.opts.Inputs.sshOverride().apply(c).withNode(n), diags
}

// sshOverride is the command line's ssh settings (none for nil inputs).
func (in *Inputs) sshOverride() SSHOverride {
	if in == nil {
		return SSHOverride{}
	}
	return in.ssh
}

// withNode applies a node's own user and port, which win over the block.
func (c SSHConfig) withNode(n *Node) SSHConfig {
	if n != nil {
		if n.Port != 0 {
			c.Port = n.Port
		}
		if n.User != "" {
			c.User = n.User
		}
	}
	return c
}

// DockerContainer evaluates the docker block's container name for a node.
func (e *Evaluator) DockerContainer(n *Node) (string, bool) {
	if e.Plan.Docker == nil || e.Plan.Docker.Container == nil {
		return "", false
	}
	c, diags := str(e.Plan.Docker.Container, e.NodeContext(n), "container", "")
	return c, c != "" && !diags.HasErrors()
}

// Remote resolves test.remote.
func (e *Evaluator) Remote() (string, hcl.Diagnostics) {
	if e.Plan.Test == nil {
		return "ssh", nil
	}
	return oneOfStrings(e.Plan.Test.Remote, e.root, "remote", "ssh", "ssh", "docker", "local")
}

// OSConfig is the os block evaluated for one node.
type OSConfig struct {
	Packages []string
	Hosts    bool
	Setup    []string
	Teardown []string
}

// OS evaluates the os block for a node.
func (e *Evaluator) OS(n *Node) (OSConfig, hcl.Diagnostics) {
	c := OSConfig{Hosts: true}
	o := e.Plan.OS
	if o == nil {
		return c, nil
	}
	ctx := e.NodeContext(n)
	var diags, ds hcl.Diagnostics
	c.Packages, ds = stringList(o.Packages, ctx, "packages")
	diags = append(diags, ds...)
	c.Hosts, ds = boolean(o.Hosts, ctx, "hosts", true)
	diags = append(diags, ds...)
	c.Setup, ds = commands(o.Setup, ctx, "setup")
	diags = append(diags, ds...)
	c.Teardown, ds = commands(o.Teardown, ctx, "teardown")
	diags = append(diags, ds...)
	return c, diags
}

// DBConfig is a db block evaluated for one node.
type DBConfig struct {
	Name         string
	Packages     []string
	Archive      string
	ArchiveDir   string
	Strip        int
	Install      []string
	Files        []FileConfig
	Daemons      []DaemonConfig
	Setup        []string
	PrimarySetup []string
	Teardown     []string
	LogFiles     []string
	SetupRetries int
}

// FileConfig is a file put on a node.
type FileConfig struct {
	Path    string
	Content string
	// Source is a local path, resolved against the plan's directory.
	Source string
	Mode   string
	Owner  string
}

// DaemonConfig is a daemon evaluated for one node.
type DaemonConfig struct {
	Name    string
	Command string
	Args    []string
	Env     map[string]string
	Dir     string
	User    string
	Pidfile string
	Logfile string

	ReadyPort     int
	ReadyCommand  string
	ReadyTimeout  time.Duration
	ReadyInterval time.Duration
}

// DB evaluates a db block for a node.
func (e *Evaluator) DB(d *lang.DB, n *Node) (DBConfig, hcl.Diagnostics) {
	c := DBConfig{Name: d.Name, SetupRetries: 2}
	ctx := e.NodeContext(n)
	var diags, ds hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	if in := d.Install; in != nil {
		c.Packages, ds = stringList(in.Packages, ctx, "packages")
		add(ds)
		c.Archive, ds = str(in.Archive, ctx, "archive", "")
		add(ds)
		c.ArchiveDir, ds = str(in.Dir, ctx, "dir", "/opt/jplan/"+d.Name)
		add(ds)
		c.Strip, ds = integer(in.StripComponents, ctx, "strip_components", 0, 0, 32)
		add(ds)
		c.Install, ds = commands(in.Commands, ctx, "commands")
		add(ds)
	}
	for _, f := range d.Files {
		fc := FileConfig{Path: f.Path}
		fc.Content, ds = str(f.Content, ctx, "content", "")
		add(ds)
		fc.Source, ds = str(f.Source, ctx, "source", "")
		add(ds)
		fc.Mode, ds = str(f.Mode, ctx, "mode", "0644")
		add(ds)
		if f.Mode != nil && !validMode(fc.Mode) {
			add(hcl.Diagnostics{valueDiag(f.Mode, "mode", fmt.Sprintf("%q is not an octal file mode like \"0644\"", fc.Mode))})
		}
		fc.Owner, ds = str(f.Owner, ctx, "owner", "")
		add(ds)
		c.Files = append(c.Files, fc)
	}
	for _, dm := range d.Daemons {
		dc, ds := e.daemon(d, dm, ctx)
		add(ds)
		on, ds := e.daemonOn(dm, n)
		add(ds)
		if on {
			c.Daemons = append(c.Daemons, dc)
		}
	}
	c.Setup, ds = commands(d.Setup, ctx, "setup")
	add(ds)
	c.PrimarySetup, ds = commands(d.PrimarySetup, ctx, "primary_setup")
	add(ds)
	c.Teardown, ds = commands(d.Teardown, ctx, "teardown")
	add(ds)
	c.LogFiles, ds = stringList(d.LogFiles, ctx, "log_files")
	add(ds)
	c.SetupRetries, ds = integer(d.SetupRetries, ctx, "setup_retries", c.SetupRetries, 0, 100)
	add(ds)
	return c, diags
}

func (e *Evaluator) daemon(d *lang.DB, dm *lang.Daemon, ctx *hcl.EvalContext) (DaemonConfig, hcl.Diagnostics) {
	c := DaemonConfig{
		Name:          dm.Name,
		Pidfile:       fmt.Sprintf("/var/run/jplan-%s-%s.pid", d.Name, dm.Name),
		Logfile:       fmt.Sprintf("/var/log/jplan-%s-%s.log", d.Name, dm.Name),
		ReadyTimeout:  60 * time.Second,
		ReadyInterval: 250 * time.Millisecond,
	}
	var diags, ds hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	c.Command, ds = str(dm.Command, ctx, "command", "")
	add(ds)
	c.Args, ds = stringList(dm.Args, ctx, "args")
	add(ds)
	c.Env, ds = stringMap(dm.Env, ctx, "env")
	add(ds)
	c.Dir, ds = str(dm.Dir, ctx, "dir", "")
	add(ds)
	c.User, ds = str(dm.User, ctx, "user", "")
	add(ds)
	c.Pidfile, ds = str(dm.Pidfile, ctx, "pidfile", c.Pidfile)
	add(ds)
	c.Logfile, ds = str(dm.Logfile, ctx, "logfile", c.Logfile)
	add(ds)
	if r := dm.Ready; r != nil {
		c.ReadyPort, ds = integer(r.TCPPort, ctx, "tcp_port", 0, 1, 65535)
		add(ds)
		c.ReadyCommand, ds = str(r.Command, ctx, "command", "")
		add(ds)
		c.ReadyTimeout, ds = duration(r.Timeout, ctx, "timeout", c.ReadyTimeout, false)
		add(ds)
		c.ReadyInterval, ds = duration(r.Interval, ctx, "interval", c.ReadyInterval, false)
		add(ds)
	}
	return c, diags
}

// daemonOn reports whether a daemon runs on node n: its nodes argument,
// a list of node names evaluated once, says where; every node without it.
// With an unknown node (validation) it checks the names and says true.
func (e *Evaluator) daemonOn(dm *lang.Daemon, n *Node) (bool, hcl.Diagnostics) {
	if dm.Nodes == nil {
		return true, nil
	}
	names, diags := stringList(dm.Nodes, e.root, "nodes")
	if diags.HasErrors() {
		return true, diags
	}
	diags = append(diags, e.checkNodeNames(dm.Nodes, names, "nodes")...)
	if n == nil {
		return true, diags
	}
	for _, name := range names {
		if name == n.Name {
			return true, diags
		}
	}
	return false, diags
}

func validMode(s string) bool {
	if len(s) < 3 || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '7' {
			return false
		}
	}
	return true
}
