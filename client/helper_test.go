package client

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// The helper process client, run by the test binary itself (TestMain).
const (
	helperEnv = "JPLAN_TEST_PROCESS_CLIENT" // the mode; see helperMain
	// transcriptEnv names a file every request line is appended to.
	transcriptEnv = "JPLAN_TEST_TRANSCRIPT"
	// childPIDEnv names a file the helper writes the pid of a child it
	// starts at open (sleep 60, in its process group) to.
	childPIDEnv = "JPLAN_TEST_CHILD_PID"
)

// helperMain speaks the process protocol. Modes:
//
//	good         a register: read, write, cas; mapped answers a free-form
//	             object; slow takes 2s; crash exits 3; garbage prints a
//	             non-JSON line; number answers 42; txn runs list-append
//	             micro-ops [f key value] and answers them with reads
//	             filled in
//	badopen      answers open with fail
//	stubborn     like good, but ignores SIGTERM and never exits on close
func helperMain(mode string) int {
	if mode == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	}
	var transcript *os.File
	if p := os.Getenv(transcriptEnv); p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		transcript = f
	}
	out := bufio.NewWriter(os.Stdout)
	reply := func(v any) {
		b, _ := json.Marshal(v)
		out.Write(append(b, '\n'))
		out.Flush()
	}
	var register any
	lists := map[string][]any{} // txn's keys, by their JSON text
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if transcript != nil {
			transcript.Write(append(sc.Bytes(), '\n'))
		}
		var req map[string]any
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "bad request %q: %v\n", sc.Text(), err)
			return 2
		}
		switch req["type"] {
		case "open":
			if mode == "badopen" {
				reply(map[string]any{"type": "fail", "error": "no database"})
				continue
			}
			if p := os.Getenv(childPIDEnv); p != "" {
				child := exec.Command("sleep", "60")
				if err := child.Start(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				os.WriteFile(p, []byte(fmt.Sprint(child.Process.Pid)), 0o644)
			}
			fmt.Fprintf(os.Stderr, "opened on %v\n", req["node"])
			reply(map[string]any{"type": "ok"})
		case "setup", "teardown":
			reply(map[string]any{"type": "ok"})
		case "close":
			reply(map[string]any{"type": "ok"})
			if mode == "stubborn" {
				time.Sleep(time.Minute)
			}
			return 0
		case "invoke":
			switch req["f"] {
			case "read":
				reply(map[string]any{"type": "ok", "value": register})
			case "write":
				register = req["value"]
				reply(map[string]any{"type": "ok"})
			case "cas":
				v := req["value"].([]any)
				if register == v[0] {
					register = v[1]
					reply(map[string]any{"type": "ok"})
				} else {
					reply(map[string]any{"type": "fail", "error": "mismatch"})
				}
			case "mapped":
				reply(map[string]any{"status": "done", "answer": map[string]any{"x": []any{1, 2.5, "s"}}})
			case "slow":
				time.Sleep(2 * time.Second)
				reply(map[string]any{"type": "ok"})
			case "crash":
				fmt.Fprintln(os.Stderr, "panic: the helper crashes on purpose")
				return 3
			case "garbage":
				fmt.Fprintln(out, "this is not json")
				out.Flush()
			case "number":
				reply(42)
			case "txn":
				var done []any
				for _, m := range req["value"].([]any) {
					mop := m.([]any)
					key := fmt.Sprint(mop[1])
					switch mop[0] {
					case "append":
						lists[key] = append(lists[key], mop[2])
					case "r":
						if l, ok := lists[key]; ok {
							mop = []any{"r", mop[1], append([]any(nil), l...)}
						}
					}
					done = append(done, mop)
				}
				reply(map[string]any{"type": "ok", "value": done})
			default:
				reply(map[string]any{"type": "fail", "error": fmt.Sprintf("unknown f %v", req["f"])})
			}
		default:
			reply(map[string]any{"type": "fail", "error": "unknown request"})
		}
	}
	return 0
}
