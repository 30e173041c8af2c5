package cluster

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// vmBuildScript turns the node image into a bootable VM disk (see the
// script's header for why VMs exist at all).
//
//go:embed image/build-vm-image.sh
var vmBuildScript []byte

// DefaultVMCacheDir holds built VM images, one directory per recipe pair.
const DefaultVMCacheDir = "/var/cache/jplan/vm"

// VMImage is a built VM node image: a raw ext4 root disk (read-only base
// for per-node copy-on-write overlays), the kernel and its initramfs.
type VMImage struct {
	Dir    string `json:"dir"`
	Disk   string `json:"disk"`
	Kernel string `json:"kernel"`
	Initrd string `json:"initrd"`
}

// vmImageName names a VM image after both recipes: a change to either
// the container image or the VM layer gives a new image.
func vmImageName() string {
	h := sha256.New()
	h.Write(buildScript)
	h.Write(vmBuildScript)
	return "r" + hex.EncodeToString(h.Sum(nil))[:12]
}

func vmImageAt(dir string) VMImage {
	return VMImage{Dir: dir, Disk: filepath.Join(dir, "disk.img"),
		Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img")}
}

// EnsureVMImage builds the VM image unless one from the same recipes
// exists in cacheDir (DefaultVMCacheDir when empty). It needs the node
// image, so Docker, and root; about two minutes the first time.
func EnsureVMImage(ctx context.Context, dockerBin, cacheDir string, log io.Writer) (VMImage, error) {
	if cacheDir == "" {
		cacheDir = DefaultVMCacheDir
	}
	img := vmImageAt(filepath.Join(cacheDir, vmImageName()))
	if _, err := os.Stat(filepath.Join(img.Dir, "ok")); err == nil {
		return img, nil
	}
	if log == nil {
		log = io.Discard
	}
	if err := Ping(ctx, dockerBin); err != nil {
		return VMImage{}, fmt.Errorf("building the VM image needs the node image, so Docker: %w", err)
	}
	tag, err := EnsureImage(ctx, dockerBin, log)
	if err != nil {
		return VMImage{}, err
	}
	fmt.Fprintf(log, "building VM image %s from %s (a few minutes; cached afterwards)\n", img.Dir, tag)
	if err := runScript(ctx, vmBuildScript, "build-vm-image.sh", dockerBin, log, tag, img.Dir); err != nil {
		return VMImage{}, fmt.Errorf("building VM image %s: %w (see the output above)", img.Dir, err)
	}
	if _, err := os.Stat(filepath.Join(img.Dir, "ok")); err != nil {
		return VMImage{}, fmt.Errorf("VM image build finished but %s is incomplete", img.Dir)
	}
	return img, nil
}
