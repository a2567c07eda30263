package main

import (
	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// openFileStore is the store of the files execute_python returns, under
// p: each call's files stay readable for files.ttl_s, and the store holds
// at most filestore.DefaultMaxBytes (256 MiB) or four calls' worth of
// files.max_out_mb, whichever is more, evicting the oldest calls first.
func openFileStore(p *policy.Policy) (*filestore.Store, error) {
	return filestore.New(filestore.Options{TTL: p.Files.TTL(), MaxBytes: max(filestore.DefaultMaxBytes, 4*p.Files.MaxOutBytes())})
}

// localMounts are the local backend's mounts from backend.local.mounts.
func localMounts(p *policy.Policy) []local.Mount {
	var ms []local.Mount
	for _, m := range p.Backend.Local.Mounts {
		ms = append(ms, local.Mount{Host: m.Host, Path: m.Path, ReadOnly: m.ReadOnly})
	}
	return ms
}

// modalMounts are the same mounts for the Modal backend, which uploads
// them into every sandbox (up to files.max_mount_mb in all).
func modalMounts(p *policy.Policy) []modal.Mount {
	var ms []modal.Mount
	for _, m := range p.Backend.Local.Mounts {
		ms = append(ms, modal.Mount{Host: m.Host, Path: m.Path, ReadOnly: m.ReadOnly})
	}
	return ms
}
