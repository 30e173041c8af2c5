package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/jplan/jplan/serve"
	"github.com/spf13/pflag"
)

func init() {
	register("serve", "a web UI over the store: runs, verdicts, reports, histories, node logs", "serve [flags]\n\nServes a web UI over the store: a table of runs (sortable, filterable by test\nand verdict), each run's report, history, logs and plots, and runs in\nprogress as they go. Ctrl-C stops it. docs/serve.md has the details.", cmdServe)
}

// serveContext is the context cmdServe stops on; tests replace it.
var serveContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func cmdServe(env *cliEnv, fs *pflag.FlagSet) func([]string) int {
	store := fs.String("store", "store", "the store directory to show")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one). The UI has no authentication: keep it on localhost unless the network is yours")
	return func(rest []string) int {
		if len(rest) != 0 {
			fmt.Fprintf(env.stderr, "jplan serve: unexpected arguments %q\n", rest)
			usageHint(env, "serve")
			return exitUsage
		}
		return serveStore(env, *store, *addr)
	}
}

func serveStore(env *cliEnv, store, addr string) int {
	if st, err := os.Stat(store); err != nil || !st.IsDir() {
		fmt.Fprintf(env.stderr, "jplan serve: warning: no store at %s yet; its runs will show as they appear\n", store)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(env.stderr, "jplan serve: %v\n", err)
		return exitInvalid
	}
	srv := &http.Server{Handler: serve.Handler(store), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(env.stdout, "jplan serve: store %s at http://%s/ (Ctrl-C stops)\n", store, ln.Addr())
	ctx, stop := serveContext()
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(env.stderr, "jplan serve: %v\n", err)
		return exitInvalid
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(env.stderr, "jplan serve: stopping: %v\n", err)
	}
	fmt.Fprintln(env.stdout, "jplan serve: stopped")
	return exitOK
}
