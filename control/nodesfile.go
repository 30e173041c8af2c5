package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// NodesFile is the file that tells jplan which nodes exist and how to reach
// them (jplan --nodes-file). `jplan cluster up` writes one; users with their
// own machines write it by hand. The format is JSON, documented in
// docs/control.md:
//
//	{
//	  "cluster": "jplan",
//	  "nodes": [
//	    {"name": "n1", "host": "10.213.57.11", "port": 22, "user": "root",
//	     "key_file": "id_ed25519", "known_hosts_file": "known_hosts"}
//	  ]
//	}
//
// Relative paths are relative to the directory holding the nodes file.
type NodesFile struct {
	// Cluster names the cluster the file describes (informational).
	Cluster string     `json:"cluster,omitempty"`
	Nodes   []NodeSpec `json:"nodes"`
}

// NodeSpec is one node in a nodes file.
type NodeSpec struct {
	Name string `json:"name"`
	// Transport is "ssh" (the default), "docker" or "local".
	Transport string `json:"transport,omitempty"`

	// SSH.
	Host                  string `json:"host,omitempty"`
	Port                  int    `json:"port,omitempty"`
	User                  string `json:"user,omitempty"`
	KeyFile               string `json:"key_file,omitempty"`
	Password              string `json:"password,omitempty"`
	KnownHostsFile        string `json:"known_hosts_file,omitempty"`
	InsecureIgnoreHostKey bool   `json:"insecure_ignore_host_key,omitempty"`

	// Container is the node's container, for the docker transport and for
	// tools that want to reach a cluster node without SSH.
	Container string `json:"container,omitempty"`

	// SudoPassword is used for commands run with sudo, if the user needs
	// one.
	SudoPassword string `json:"sudo_password,omitempty"`
}

// ReadNodesFile reads and checks a nodes file, resolving relative paths
// against its directory.
func ReadNodesFile(path string) (*NodesFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nodes file: %w", err)
	}
	var nf NodesFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key must not silently drop a setting
	if err := dec.Decode(&nf); err != nil {
		return nil, fmt.Errorf("nodes file %s: %w", path, err)
	}
	base := filepath.Dir(path)
	seen := map[string]bool{}
	var errs []error
	for i := range nf.Nodes {
		n := &nf.Nodes[i]
		if n.Name == "" {
			errs = append(errs, fmt.Errorf("node #%d has no name", i+1))
			continue
		}
		if seen[n.Name] {
			errs = append(errs, fmt.Errorf("node %s listed twice", n.Name))
		}
		seen[n.Name] = true
		switch n.Transport {
		case "", "ssh":
			if n.Host == "" {
				errs = append(errs, fmt.Errorf("node %s: no host", n.Name))
			}
		case "docker":
			if n.Container == "" {
				errs = append(errs, fmt.Errorf("node %s: docker transport needs a container", n.Name))
			}
		case "local":
		default:
			errs = append(errs, fmt.Errorf("node %s: unknown transport %q (want ssh, docker or local)", n.Name, n.Transport))
		}
		for _, p := range []*string{&n.KeyFile, &n.KnownHostsFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(base, *p)
			}
		}
	}
	if len(nf.Nodes) == 0 {
		errs = append(errs, errors.New("no nodes"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("nodes file %s: %w", path, err)
	}
	return &nf, nil
}

// WriteNodesFile writes nf as indented JSON, readable only by its owner
// since it may hold passwords.
func WriteNodesFile(path string, nf *NodesFile) error {
	data, err := json.MarshalIndent(nf, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing nodes file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing nodes file: %w", err)
	}
	return nil
}

// OpenOptions tune the Remotes made from a nodes file.
type OpenOptions struct {
	ConnectTimeout time.Duration
}

// Open makes the Remote that n describes. SSH remotes connect lazily.
func (n NodeSpec) Open(opts OpenOptions) (Remote, error) {
	var r Remote
	switch n.Transport {
	case "", "ssh":
		s, err := NewSSH(SSHConfig{
			Node: n.Name, Host: n.Host, Port: n.Port, User: n.User,
			KeyFile: n.KeyFile, Password: n.Password,
			KnownHostsFile: n.KnownHostsFile, InsecureIgnoreHostKey: n.InsecureIgnoreHostKey,
			SudoPassword: n.SudoPassword, ConnectTimeout: opts.ConnectTimeout,
		})
		if err != nil {
			return nil, err
		}
		r = s
	case "docker":
		d, err := NewDocker(DockerConfig{Node: n.Name, Container: n.Container, User: n.User, SudoPassword: n.SudoPassword})
		if err != nil {
			return nil, err
		}
		r = d
	case "local":
		r = NewLocal(n.Name)
	default:
		return nil, fmt.Errorf("node %s: unknown transport %q", n.Name, n.Transport)
	}
	return r, nil
}

// OpenAll opens every node in nf, in file order. On error nothing is left
// open.
func (nf *NodesFile) OpenAll(opts OpenOptions) ([]Remote, error) {
	rs := make([]Remote, 0, len(nf.Nodes))
	for _, n := range nf.Nodes {
		r, err := n.Open(opts)
		if err != nil {
			CloseAll(rs)
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// CloseAll closes every remote, returning the first error.
func CloseAll(rs []Remote) error {
	var first error
	for _, r := range rs {
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
