package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DB is how to install, start, stop and clean up the system under test. Its
// expressions are evaluated once per node, with node bound to that node.
type DB struct {
	Name    string
	Install *Install
	Files   []*File
	Daemons []*Daemon
	// Setup runs on every node after the daemons are ready;
	// PrimarySetup only on the primary (the first node), after Setup.
	Setup        hcl.Expression
	PrimarySetup hcl.Expression
	Teardown     hcl.Expression
	LogFiles     hcl.Expression
	// SetupRetries is how often a failed teardown+setup is retried.
	SetupRetries hcl.Expression

	DeclRange hcl.Range
}

// Install says where the database's software comes from.
type Install struct {
	Packages hcl.Expression
	// Archive is a URL or a local file (uploaded), unpacked into Dir.
	Archive         hcl.Expression
	Dir             hcl.Expression
	StripComponents hcl.Expression
	Commands        hcl.Expression

	DeclRange hcl.Range
}

// File is a file put on every node: templated content, or a local file
// uploaded (a binary, say).
type File struct {
	Path    string
	Content hcl.Expression
	Source  hcl.Expression
	Mode    hcl.Expression
	Owner   hcl.Expression

	DeclRange hcl.Range
}

// Daemon is a long-running process of the database, started in the
// background with a pidfile so faults can kill, pause and restart it.
type Daemon struct {
	Name    string
	Command hcl.Expression
	Args    hcl.Expression
	Env     hcl.Expression
	Dir     hcl.Expression
	User    hcl.Expression
	Pidfile hcl.Expression
	Logfile hcl.Expression
	// Nodes limits the daemon to some nodes (names); all when absent.
	Nodes hcl.Expression
	Ready *Ready

	DeclRange hcl.Range
}

// Ready says how to tell that a daemon is up.
type Ready struct {
	TCPPort  hcl.Expression
	Command  hcl.Expression
	Timeout  hcl.Expression
	Interval hcl.Expression

	DeclRange hcl.Range
}

var (
	dbSchema = registerSchema("db", Schema{
		Attrs: []AttrSpec{
			{Name: "setup", Doc: "commands run on every node once daemons are ready"},
			{Name: "primary_setup", Doc: "commands run on the primary node after setup"},
			{Name: "teardown", Doc: "commands that remove the database's state"},
			{Name: "log_files", Doc: "files downloaded from every node after the run"},
			{Name: "setup_retries", Doc: "retries of a failed setup (default 2)"},
		},
		Blocks: []BlockSpec{
			{Type: "install", Single: true},
			{Type: "file", Labels: []string{"path"}},
			{Type: "daemon", Labels: []string{"name"}},
		},
	})
	installSchema = registerSchema("db.install", Schema{Attrs: []AttrSpec{
		{Name: "packages", Doc: "Debian packages installed when missing"},
		{Name: "archive", Doc: "tarball URL or local file, unpacked into dir"},
		{Name: "dir", Doc: "where the archive is unpacked"},
		{Name: "strip_components", Doc: "leading path components dropped when unpacking"},
		{Name: "commands", Doc: "commands run after the rest of the install"},
	}})
	fileSchema = registerSchema("db.file", Schema{Attrs: []AttrSpec{
		{Name: "content", Doc: "the file's text"},
		{Name: "source", Doc: "a local file uploaded as is"},
		{Name: "mode", Doc: `permissions, e.g. "0644"`},
		{Name: "owner", Doc: `owner, e.g. "etcd:etcd"`},
	}})
	daemonSchema = registerSchema("db.daemon", Schema{
		Attrs: []AttrSpec{
			{Name: "command", Required: true, Doc: "the program"},
			{Name: "args", Doc: "its arguments, a list of strings"},
			{Name: "env", Doc: "environment variables, a map"},
			{Name: "dir", Doc: "working directory"},
			{Name: "user", Doc: "user it runs as"},
			{Name: "pidfile", Doc: "where its pid is kept"},
			{Name: "logfile", Doc: "where its stdout and stderr go"},
			{Name: "nodes", Doc: "the nodes it runs on (names); every node when absent"},
		},
		Blocks: []BlockSpec{{Type: "ready", Single: true}},
	})
	readySchema = registerSchema("db.daemon.ready", Schema{Attrs: []AttrSpec{
		{Name: "tcp_port", Doc: "ready when this port accepts connections"},
		{Name: "command", Doc: "ready when this command exits 0"},
		{Name: "timeout", Doc: "how long to wait (default 60s)"},
		{Name: "interval", Doc: "how often to check (default 250ms)"},
	}})
)

func decodeDB(blk *hcl.Block) (*DB, hcl.Diagnostics) {
	c, diags := dbSchema.content(blk.Body, "db")
	d := &DB{
		Name:         blk.Labels[0],
		Setup:        expr(c, "setup"),
		PrimarySetup: expr(c, "primary_setup"),
		Teardown:     expr(c, "teardown"),
		LogFiles:     expr(c, "log_files"),
		SetupRetries: expr(c, "setup_retries"),
		DeclRange:    blk.DefRange,
	}
	if dg := checkName("db", d.Name, blk.LabelRanges[0]); dg != nil {
		diags = append(diags, dg)
	}
	if ib := blocksOf(c, "install"); len(ib) > 0 {
		ic, ds := installSchema.content(ib[0].Body, "install")
		diags = append(diags, ds...)
		d.Install = &Install{
			Packages:        expr(ic, "packages"),
			Archive:         expr(ic, "archive"),
			Dir:             expr(ic, "dir"),
			StripComponents: expr(ic, "strip_components"),
			Commands:        expr(ic, "commands"),
			DeclRange:       ib[0].DefRange,
		}
	}
	seenFile := map[string]hcl.Range{}
	for _, fb := range blocksOf(c, "file") {
		fc, ds := fileSchema.content(fb.Body, "file")
		diags = append(diags, ds...)
		f := &File{Path: fb.Labels[0], Content: expr(fc, "content"), Source: expr(fc, "source"),
			Mode: expr(fc, "mode"), Owner: expr(fc, "owner"), DeclRange: fb.DefRange}
		if first, dup := seenFile[f.Path]; dup {
			diags = append(diags, duplicateDiag(fmt.Sprintf("file %q", f.Path), "db "+d.Name, fb.DefRange, first))
			continue
		}
		seenFile[f.Path] = fb.DefRange
		switch {
		case !strings.HasPrefix(f.Path, "/"):
			diags = append(diags, errorDiag("Relative file path",
				fmt.Sprintf("A file block names the path on the node, which must be absolute; %q is not.", f.Path), fb.LabelRanges[0]))
		case (f.Content == nil) == (f.Source == nil):
			diags = append(diags, errorDiag("File needs content or source",
				"A file block takes exactly one of content (text, may use templates) or source (a local file uploaded as is).", fb.DefRange))
		}
		d.Files = append(d.Files, f)
	}
	seenDaemon := map[string]hcl.Range{}
	for _, db := range blocksOf(c, "daemon") {
		dm, ds := decodeDaemon(db)
		diags = append(diags, ds...)
		if first, dup := seenDaemon[dm.Name]; dup {
			diags = append(diags, duplicateDiag(fmt.Sprintf("daemon %q", dm.Name), "db "+d.Name, db.DefRange, first))
			continue
		}
		seenDaemon[dm.Name] = db.DefRange
		d.Daemons = append(d.Daemons, dm)
	}
	return d, diags
}

func decodeDaemon(blk *hcl.Block) (*Daemon, hcl.Diagnostics) {
	c, diags := daemonSchema.content(blk.Body, "daemon")
	d := &Daemon{
		Name:      blk.Labels[0],
		Command:   expr(c, "command"),
		Args:      expr(c, "args"),
		Env:       expr(c, "env"),
		Dir:       expr(c, "dir"),
		User:      expr(c, "user"),
		Pidfile:   expr(c, "pidfile"),
		Logfile:   expr(c, "logfile"),
		Nodes:     expr(c, "nodes"),
		DeclRange: blk.DefRange,
	}
	if dg := checkName("daemon", d.Name, blk.LabelRanges[0]); dg != nil {
		diags = append(diags, dg)
	}
	if rb := blocksOf(c, "ready"); len(rb) > 0 {
		rc, ds := readySchema.content(rb[0].Body, "ready")
		diags = append(diags, ds...)
		d.Ready = &Ready{TCPPort: expr(rc, "tcp_port"), Command: expr(rc, "command"),
			Timeout: expr(rc, "timeout"), Interval: expr(rc, "interval"), DeclRange: rb[0].DefRange}
		if d.Ready.TCPPort == nil && d.Ready.Command == nil {
			diags = append(diags, errorDiag("Empty ready block",
				"A ready block needs tcp_port or command (or both) to tell when the daemon is up.", rb[0].DefRange))
		}
	}
	return d, diags
}
