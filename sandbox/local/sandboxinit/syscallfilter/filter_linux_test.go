//go:build linux

package syscallfilter

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Verdicts of the filter.
const (
	allow        = unix.SECCOMP_RET_ALLOW
	eperm        = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys       = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	eafnosupport = unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)
)

// seccompData lays out struct seccomp_data for x/net/bpf's VM, which loads
// words big-endian (network order) where the kernel loads them in the
// machine's order: each 32-bit word is stored big-endian at the offset
// where a little-endian kernel (amd64, arm64) reads it, so the VM sees the
// values the kernel would.
func seccompData(auditArch uint32, nr uintptr, args ...uint64) []byte {
	b := make([]byte, 64) // nr, arch, instruction pointer, six arguments
	put := func(off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
	put(0, uint32(nr))
	put(4, auditArch)
	for i, a := range args {
		put(16+8*i, uint32(a))       // low half
		put(16+8*i+4, uint32(a>>32)) // high half
	}
	return b
}

// TestSeccompFilterVerdicts runs the assembled filter, as the kernel would,
// on the calls each rule is about: what sandboxed Python needs stays
// allowed, every socket family but UNIX, IPv4 and IPv6 is refused (also
// with junk in the high half of the register the kernel ignores), the new
// mount listing calls are refused, and memfd_create and System V IPC are
// refused exactly when no memory cgroup bounds the sandbox.
func TestSeccompFilterVerdicts(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("seccompData lays out a little-endian machine's seccomp_data")
	}
	native, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	id := uint32(native.ID)
	const highJunk = 1 << 32
	tests := []struct {
		name string
		data []byte
		// want without and with DenyUnaccountedMemory
		want, wantDenyingMemory uint32
	}{
		{"read", seccompData(id, unix.SYS_READ, 0, 0, 0), allow, allow},
		{"socket(AF_UNIX)", seccompData(id, unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0), allow, allow},
		{"socket(AF_INET)", seccompData(id, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, 0), allow, allow},
		{"socket(AF_INET6)", seccompData(id, unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_DGRAM, 0), allow, allow},
		{"socketpair(AF_UNIX)", seccompData(id, unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM, 0, 0), allow, allow},
		{"socket(AF_VSOCK)", seccompData(id, unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0), eafnosupport, eafnosupport},
		{"socket(AF_NETLINK)", seccompData(id, unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, 0), eafnosupport, eafnosupport},
		{"socket(AF_PACKET)", seccompData(id, unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_RAW, 0), eafnosupport, eafnosupport},
		{"socket(AF_ALG)", seccompData(id, unix.SYS_SOCKET, unix.AF_ALG, unix.SOCK_SEQPACKET, 0), eafnosupport, eafnosupport},
		{"socket(AF_BLUETOOTH)", seccompData(id, unix.SYS_SOCKET, unix.AF_BLUETOOTH, unix.SOCK_STREAM, 0), eafnosupport, eafnosupport},
		{"socket(AF_KEY)", seccompData(id, unix.SYS_SOCKET, unix.AF_KEY, unix.SOCK_RAW, 2), eafnosupport, eafnosupport},
		{"socket(AF_UNSPEC)", seccompData(id, unix.SYS_SOCKET, unix.AF_UNSPEC, unix.SOCK_STREAM, 0), eafnosupport, eafnosupport},
		{"socket(-1)", seccompData(id, unix.SYS_SOCKET, ^uint64(0), unix.SOCK_STREAM, 0), eafnosupport, eafnosupport},
		{"socket(AF_VSOCK) with junk in the high half", seccompData(id, unix.SYS_SOCKET, highJunk|unix.AF_VSOCK, unix.SOCK_STREAM, 0), eafnosupport, eafnosupport},
		{"socket(AF_UNIX) with junk in the high half", seccompData(id, unix.SYS_SOCKET, highJunk|unix.AF_UNIX, unix.SOCK_STREAM, 0), eafnosupport, eafnosupport},
		{"socketpair(AF_VSOCK)", seccompData(id, unix.SYS_SOCKETPAIR, unix.AF_VSOCK, unix.SOCK_STREAM, 0, 0), eafnosupport, eafnosupport},
		{"open_tree", seccompData(id, unix.SYS_OPEN_TREE, 0, 0, 0), eperm, eperm},
		{"open_tree_attr", seccompData(id, unix.SYS_OPEN_TREE_ATTR, 0, 0, 0), eperm, eperm},
		{"listmount", seccompData(id, unix.SYS_LISTMOUNT, 0, 0, 0), eperm, eperm},
		{"statmount", seccompData(id, unix.SYS_STATMOUNT, 0, 0, 0), eperm, eperm},
		{"clone(CLONE_NEWUSER)", seccompData(id, unix.SYS_CLONE, unix.CLONE_NEWUSER|uint64(unix.SIGCHLD), 0, 0, 0, 0), eperm, eperm},
		{"clone of a thread", seccompData(id, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_SIGHAND, 0, 0, 0, 0), allow, allow},
		{"mknodat(a character device)", seccompData(id, unix.SYS_MKNODAT, 0, 0, unix.S_IFCHR|0o600, 0), eperm, eperm},
		{"mknodat(a FIFO)", seccompData(id, unix.SYS_MKNODAT, 0, 0, unix.S_IFIFO|0o600, 0), allow, allow},
		{"clone3", seccompData(id, unix.SYS_CLONE3, 0, 0), enosys, enosys},
		{"memfd_secret", seccompData(id, unix.SYS_MEMFD_SECRET, 0), enosys, enosys},
		{"memfd_create", seccompData(id, unix.SYS_MEMFD_CREATE, 0, 0), allow, enosys},
		{"shmget", seccompData(id, unix.SYS_SHMGET, 0, 1<<20, 0), allow, enosys},
		{"shmat", seccompData(id, unix.SYS_SHMAT, 0, 0, 0), allow, enosys},
		{"shmctl", seccompData(id, unix.SYS_SHMCTL, 0, 0, 0), allow, enosys},
		{"msgget", seccompData(id, unix.SYS_MSGGET, 0, 0), allow, enosys},
		{"msgsnd", seccompData(id, unix.SYS_MSGSND, 0, 0, 0, 0), allow, enosys},
		{"semget", seccompData(id, unix.SYS_SEMGET, 0, 1, 0), allow, enosys},
		{"semop", seccompData(id, unix.SYS_SEMOP, 0, 0, 0), allow, enosys},
		{"another ABI's read", seccompData(id^1, unix.SYS_READ, 0, 0, 0), enosys, enosys},
	}
	for _, denyMemory := range []bool{false, true} {
		insts, err := seccompFilter(denyMemory)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(insts)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/deny unaccounted memory %v", tc.name, denyMemory), func(t *testing.T) {
				want := tc.want
				if denyMemory {
					want = tc.wantDenyingMemory
				}
				got, err := vm.Run(tc.data)
				if err != nil {
					t.Fatal(err)
				}
				if uint32(got) != want {
					t.Errorf("verdict %#x, want %#x", got, want)
				}
			})
		}
	}
}

// TestSeccompNamesExistOnEveryArch: the filter is assembled from names for
// the running architecture; a name missing from one table would stop every
// sandbox there from starting (only legacySyscalls may be missing).
func TestSeccompNamesExistOnEveryArch(t *testing.T) {
	lists := [][]string{deniedSyscalls, absentSyscalls, unaccountedMemorySyscalls,
		{"clone", "mknodat", "socket", "socketpair"}}
	if info, err := arch.GetInfo("amd64"); err != nil || len(onArch(info, legacySyscalls)) != len(legacySyscalls) {
		t.Errorf("x86-64 lacks one of %q: %v", legacySyscalls, err)
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		info, err := arch.GetInfo(goarch)
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range lists {
			for _, name := range list {
				if _, ok := info.SyscallNames[name]; !ok {
					t.Errorf("%s: go-seccomp-bpf has no system call %q", goarch, name)
				}
			}
		}
	}
}

// TestSeccompProgramsAssemble: both variants of the filter assemble into
// a program the kernel accepts in length.
func TestSeccompProgramsAssemble(t *testing.T) {
	for _, denyMemory := range []bool{false, true} {
		p, err := Build(denyMemory)
		if err != nil {
			t.Fatalf("deny unaccounted memory %v: %v", denyMemory, err)
		}
		if n := len(p.filters); n == 0 || n > unix.BPF_MAXINSNS || int(p.prog.Len) != n {
			t.Errorf("deny unaccounted memory %v: %d instructions, prog.Len %d", denyMemory, n, p.prog.Len)
		}
		t.Logf("deny unaccounted memory %v: %d instructions", denyMemory, len(p.filters))
	}
}
