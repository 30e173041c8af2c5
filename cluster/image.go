package cluster

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// buildScript is the image recipe. scripts/cluster/build-image.sh runs the
// same file, and both derive the image tag from its hash, so the CLI and the
// script always agree on which image is current.
//
//go:embed image/build-image.sh
var buildScript []byte

// ImageRepo is the repository name of node images.
const ImageRepo = "jplan-node"

// ImageTag is the tag of the image built from the current recipe:
// jplan-node:r<first 12 hex digits of the recipe's SHA-256>.
func ImageTag() string {
	sum := sha256.Sum256(buildScript)
	return ImageRepo + ":r" + hex.EncodeToString(sum[:])[:12]
}

// EnsureImage builds the node image unless an image from the same recipe
// exists, and returns its tag. Building needs root (or sudo), debootstrap
// (installed if missing) and the Debian mirror apt uses; it takes about a
// minute.
func EnsureImage(ctx context.Context, dockerBin string, log io.Writer) (string, error) {
	d := docker{bin: dockerBin}
	tag := ImageTag()
	if _, err := d.run(ctx, "image", "inspect", "--format", "{{.Id}}", tag); err == nil {
		return tag, nil
	}
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "building node image %s (about a minute; cached afterwards)\n", tag)
	if err := runScript(ctx, buildScript, "build-image.sh", d.bin, log); err != nil {
		return "", fmt.Errorf("building node image %s: %w (see the output above)", tag, err)
	}
	if _, err := d.run(ctx, "image", "inspect", "--format", "{{.Id}}", tag); err != nil {
		return "", fmt.Errorf("image build finished but %s is missing: %w", tag, err)
	}
	return tag, nil
}

// runScript runs one of the embedded image recipes with bash, its output
// going to log. The scripts call plain "docker", so a chosen docker binary
// goes first on PATH.
func runScript(ctx context.Context, script []byte, name, dockerBin string, log io.Writer, args ...string) error {
	dir, err := os.MkdirTemp("", "jplan-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, script, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "bash", append([]string{path}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if dockerBin != "" && dockerBin != "docker" {
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(dockerBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	return cmd.Run()
}
