// Command jplan-faultfs serves a directory through faultfs, jplan's
// fault-injecting FUSE filesystem, and controls it. jplan uploads it to
// nodes as a static binary.
//
//	jplan-faultfs mount --backing DIR --mount DIR --control SOCKET [--pidfile FILE] [--log FILE] [--seed N] [--foreground]
//	jplan-faultfs ctl SOCKET COMMAND [ARGS...]
//	jplan-faultfs unmount --mount DIR [--control SOCKET] [--pidfile FILE]
//
// mount returns once the filesystem is mounted and the control socket
// answers; the server runs on in its own session (it survives the SSH
// session that started it) until unmounted. Commands for ctl: status,
// lose [torn], checkpoint, set MODE [p=PROB] [prefix=PATH], clear
// [MODE|all], ping. unmount flushes buffered writes to the backing
// directory, unmounts and waits for the server to exit.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jplan/jplan/faultfs"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "mount":
		err = mountCmd(os.Args[2:])
	case "ctl":
		if len(os.Args) < 4 {
			usage()
		}
		var out string
		out, err = faultfs.Ctl(os.Args[2], os.Args[3:]...)
		if err == nil {
			fmt.Println(out)
		}
	case "unmount", "umount":
		err = unmountCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jplan-faultfs:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  jplan-faultfs mount --backing DIR --mount DIR --control SOCKET [--pidfile FILE] [--log FILE] [--seed N] [--foreground]
  jplan-faultfs ctl SOCKET status|lose [torn]|checkpoint|set MODE [p=PROB] [prefix=PATH]|clear [MODE|all]|ping
  jplan-faultfs unmount --mount DIR [--control SOCKET] [--pidfile FILE]`)
	os.Exit(2)
}

func mountCmd(args []string) error {
	fl := flag.NewFlagSet("mount", flag.ExitOnError)
	backing := fl.String("backing", "", "the directory whose contents are served")
	mnt := fl.String("mount", "", "the mountpoint")
	ctl := fl.String("control", "", "the control socket")
	pidfile := fl.String("pidfile", "", "where the server writes its pid")
	logfile := fl.String("log", "", "the server's log (default: the control socket's path + .log)")
	seed := fl.Uint64("seed", 0, "seed for fault probabilities (0: random)")
	fg := fl.Bool("foreground", false, "serve in this process instead of a background one")
	debug := fl.Bool("debug", false, "log every FUSE request")
	fl.Parse(args)
	if *backing == "" || *mnt == "" || *ctl == "" {
		return errors.New("mount needs --backing, --mount and --control")
	}
	if m, err := mountedAt(*mnt); err != nil {
		return err
	} else if m != "" {
		return fmt.Errorf("%s is already a mountpoint (%s)", *mnt, m)
	}
	if *fg {
		return serve(faultfs.Options{Backing: *backing, Mountpoint: *mnt, Seed: *seed, Debug: *debug}, *ctl, *pidfile)
	}
	if *logfile == "" {
		*logfile = *ctl + ".log"
	}
	return daemonize(append(args, "--foreground"), *ctl, *logfile)
}

// daemonize starts this command again in a new session, detached from the
// terminal or SSH session, and waits until its control socket answers.
func daemonize(args []string, ctl, logfile string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(logfile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	os.Remove(ctl)
	cmd := exec.Command(exe, append([]string{"mount"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		if _, err := faultfs.Ctl(ctl, "ping"); err == nil {
			fmt.Println(cmd.Process.Pid)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited (%v): %s", err, tail(logfile))
		case <-deadline:
			cmd.Process.Kill()
			return fmt.Errorf("the server did not answer within 30s: %s", tail(logfile))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func serve(opts faultfs.Options, ctl, pidfile string) error {
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return err
		}
		defer os.Remove(pidfile)
	}
	f, err := faultfs.Mount(opts)
	if err != nil {
		return err
	}
	l, err := f.ServeControl(ctl)
	if err != nil {
		f.Unmount()
		return err
	}
	defer os.Remove(ctl)
	defer l.Close()
	fmt.Fprintf(os.Stderr, "faultfs: serving %s at %s, control %s\n", opts.Backing, opts.Mountpoint, ctl)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "faultfs: %v: unmounting\n", s)
		if err := f.Unmount(); err != nil {
			fmt.Fprintf(os.Stderr, "faultfs: unmount: %v\n", err)
		}
	}()
	f.Wait()
	// Unmounted, maybe by umount(8): what is still buffered reaches the
	// backing directory, as on a clean shutdown.
	if err := f.Checkpoint(); err != nil {
		fmt.Fprintf(os.Stderr, "faultfs: final checkpoint: %v\n", err)
		return err
	}
	fmt.Fprintln(os.Stderr, "faultfs: unmounted")
	return nil
}

// mountedAt returns the filesystem type mounted at dir, or "".
func mountedAt(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", nil
	}
	defer f.Close()
	typ := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 2 && unescape(fields[1]) == abs {
			typ = fields[2] // the last mount on top wins
		}
	}
	return typ, sc.Err()
}

func unescape(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func unmountCmd(args []string) error {
	fl := flag.NewFlagSet("unmount", flag.ExitOnError)
	mnt := fl.String("mount", "", "the mountpoint")
	ctl := fl.String("control", "", "the control socket (flush before unmounting)")
	pidfile := fl.String("pidfile", "", "the server's pidfile (wait for it to exit)")
	fl.Parse(args)
	if *mnt == "" {
		return errors.New("unmount needs --mount")
	}
	typ, err := mountedAt(*mnt)
	if err != nil {
		return err
	}
	if typ == "" {
		return nil // nothing mounted
	}
	if *ctl != "" {
		if _, err := faultfs.Ctl(*ctl, "checkpoint"); err != nil {
			fmt.Fprintf(os.Stderr, "jplan-faultfs: checkpoint before unmounting: %v\n", err)
		}
	}
	pid := 0
	if *pidfile != "" {
		if b, err := os.ReadFile(*pidfile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if err := syscall.Unmount(*mnt, 0); err != nil {
		if out, ferr := exec.Command("fusermount3", "-u", *mnt).CombinedOutput(); ferr != nil {
			if typ == "fuse.faultfs" && strings.Contains(err.Error(), "not connected") {
				// The server died: detach the dead mount.
				return syscall.Unmount(*mnt, syscall.MNT_DETACH)
			}
			return fmt.Errorf("unmounting %s: %v (%s)", *mnt, err, strings.TrimSpace(string(out)))
		}
	}
	if pid > 0 {
		for i := 0; i < 300 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}
