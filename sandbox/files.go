package sandbox

// Files the caller gives the code, and files and figures the code leaves
// (issue 12). The Airlock layer checks what comes in (paths, sizes,
// counts) before a backend sees it; a backend carries the files into the
// sandbox, and brings back what the code left, bounded by FileLimits. The
// content coming back is the code's output: untrusted data, sized and
// hashed by the server, never by the sandbox.

// InFile is a file written into the sandbox before the code runs.
type InFile struct {
	// Path is relative to the working directory (/work on the local
	// backend): clean, no "..", not absolute. Directories on the way are
	// created; nothing on the way is followed if it is a symlink.
	Path string
	// Data is the file's content.
	Data []byte
}

// OutFile is a regular file the code left under the output directory
// (OutDir, relative to the working directory), or a figure.
type OutFile struct {
	// Path is relative to the output directory (for a figure, its name,
	// e.g. "figure-1.png").
	Path string
	// Size is the file's size in bytes, as the sandbox saw it.
	Size int64
	// Data is the content; nil when Omitted.
	Data []byte
	// Omitted, when not "", says in one phrase why the content was not
	// returned ("over files.max_out_mb", "more than files.max_out_count
	// files", "not a regular file").
	Omitted string
}

// OutDir is where, relative to the working directory, the code leaves the
// files it wants returned.
const OutDir = "out"

// FileLimits bound what comes back from one call. The zero value returns
// nothing: no file, no figure, nothing listed.
type FileLimits struct {
	// MaxOutBytes bounds the total content of the returned files and
	// figures; what does not fit is listed Omitted.
	MaxOutBytes int64
	// MaxOutCount bounds how many files and figures come back with their
	// content; up to MaxOmittedListed more are listed Omitted, and the
	// rest are not listed.
	MaxOutCount int
}
