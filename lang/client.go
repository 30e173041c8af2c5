package lang

import "github.com/hashicorp/hcl/v2"

// Client says how a worker talks to the system under test. The label is the
// client kind. Its expressions are evaluated once per worker, with node bound
// to the node the worker's client is opened on.
type Client struct {
	Kind string
	Args Args

	DeclRange hcl.Range
}

// ClientKinds are the schemas of each client kind.
var ClientKinds = map[string]Schema{
	// http sends one request per operation; the operation's request block
	// builds it.
	"http": registerSchema("client:http", Schema{Attrs: []AttrSpec{
		{Name: "base_url", Required: true, Doc: "URL requests are relative to"},
		{Name: "timeout", Doc: "per-request timeout; past it the op is info"},
		{Name: "headers", Doc: "headers sent with every request"},
	}}),
	// exec runs one command per operation; the operation's command builds it.
	"exec": registerSchema("client:exec", Schema{Attrs: []AttrSpec{
		{Name: "on", Doc: `where commands run: "control" or "node"`},
		{Name: "timeout", Doc: "per-command timeout; past it the op is info"},
		{Name: "env", Doc: "environment variables"},
	}}),
	// memory is jplan's in-memory register (read, write, cas), for trying
	// plans without a cluster and for testing jplan itself; stale_reads
	// makes it serve stale reads, so it is not linearizable.
	"memory": registerSchema("client:memory", Schema{Attrs: []AttrSpec{
		{Name: "stale_reads", Doc: "serve reads from lagging replicas (not linearizable)"},
		{Name: "jitter", Doc: "random latency added before and after each op"},
		{Name: "error_rate", Doc: "fraction of ops that fail with an unknown outcome"},
		{Name: "isolation", Doc: `the key-value store's isolation for txn ops: "serializable", "read committed" or "read uncommitted"`},
	}}),
	// sql opens one PostgreSQL connection per worker and runs each op in
	// one transaction: a txn op's micro-ops through the operation's
	// micro_ops templates, any other op through its statements.
	"sql": registerSchema("client:sql", Schema{Attrs: []AttrSpec{
		{Name: "host", Doc: "server host (default node.host)"},
		{Name: "port", Doc: "server port (default 5432)"},
		{Name: "user", Doc: "user name (default postgres)"},
		{Name: "password", Doc: "password (default none)"},
		{Name: "database", Doc: "database (default postgres)"},
		{Name: "dsn", Doc: "connection string instead of host, port, user, password, database"},
		{Name: "isolation", Doc: "transaction isolation level (default serializable)"},
		{Name: "timeout", Doc: "per-operation timeout; past it the op is fail or info"},
	}}),
	// process starts one program per worker and speaks JSON lines with it.
	"process": registerSchema("client:process", Schema{Attrs: []AttrSpec{
		{Name: "command", Required: true, Doc: "program and arguments, a list"},
		{Name: "timeout", Doc: "per-operation timeout; past it the op is info"},
		{Name: "env", Doc: "environment variables"},
		{Name: "dir", Doc: "working directory"},
	}}),
}

func decodeClient(blk *hcl.Block) (*Client, hcl.Diagnostics) {
	c := &Client{Kind: blk.Labels[0], Args: Args{}, DeclRange: blk.DefRange}
	s, d := kindSchemas("client kind", ClientKinds, c.Kind, blk.LabelRanges[0])
	if d != nil {
		return c, hcl.Diagnostics{d}
	}
	content, diags := s.content(blk.Body, "client")
	for n, a := range content.Attributes {
		c.Args[n] = a
	}
	return c, diags
}
