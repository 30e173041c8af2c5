package faultfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The control protocol: a client connects to the unix socket, sends one
// command line, and reads one reply line, "ok <result>" or "error
// <message>". Commands:
//
//	status                         counters and switched-on behaviours (JSON)
//	lose [torn]                    discard every write not fsynced (JSON report)
//	checkpoint                     flush every buffered write to the store
//	set <mode> [p=<prob>] [prefix=<path>]   switch a behaviour on
//	clear [<mode>|all]             switch one or all behaviours off
//	ping                           "pong"

// Command runs one control command and returns its result.
func (f *FS) Command(line string) (string, error) {
	args := strings.Fields(line)
	if len(args) == 0 {
		return "", errors.New("empty command")
	}
	switch args[0] {
	case "ping":
		return "pong", nil
	case "status":
		b, err := json.Marshal(f.Stats())
		return string(b), err
	case "lose":
		torn := false
		for _, a := range args[1:] {
			if a != "torn" {
				return "", fmt.Errorf("lose: unknown argument %q", a)
			}
			torn = true
		}
		b, err := json.Marshal(f.Lose(torn))
		return string(b), err
	case "checkpoint":
		if err := f.Checkpoint(); err != nil {
			return "", err
		}
		return "checkpointed", nil
	case "set":
		if len(args) < 2 {
			return "", errors.New("set: which mode?")
		}
		r := Rule{Prob: 1}
		for _, a := range args[2:] {
			k, v, _ := strings.Cut(a, "=")
			switch k {
			case "p", "prob", "probability":
				p, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return "", fmt.Errorf("set: probability %q: %w", v, err)
				}
				r.Prob = p
			case "prefix":
				r.Prefix = v
			default:
				return "", fmt.Errorf("set: unknown argument %q (want p=<probability> or prefix=<path>)", a)
			}
		}
		if err := f.Set(args[1], r); err != nil {
			return "", err
		}
		return strings.Join(f.faults.names(), ","), nil
	case "clear":
		mode := ""
		if len(args) > 1 {
			mode = args[1]
		}
		if err := f.Clear(mode); err != nil {
			return "", err
		}
		return "cleared", nil
	}
	return "", fmt.Errorf("unknown command %q (want status, lose, checkpoint, set, clear or ping)", args[0])
}

// ServeControl listens on a unix socket at path for control commands until
// the returned listener is closed.
func (f *FS) ServeControl(path string) (io.Closer, error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serveConn(c)
		}
	}()
	return l, nil
}

func (f *FS) serveConn(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	res, err := f.Command(strings.TrimSpace(line))
	if err != nil {
		fmt.Fprintf(c, "error %s\n", oneLine(err.Error()))
		return
	}
	fmt.Fprintf(c, "ok %s\n", oneLine(res))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Ctl sends a command to the faultfs listening on the socket at path and
// returns its result.
func Ctl(path string, args ...string) (string, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := fmt.Fprintf(c, "%s\n", strings.Join(args, " ")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no reply from %s: %w", path, err)
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return "", errors.New(msg)
	}
	res, ok := strings.CutPrefix(line, "ok")
	if !ok {
		return "", fmt.Errorf("unexpected reply %q", line)
	}
	return strings.TrimSpace(res), nil
}
