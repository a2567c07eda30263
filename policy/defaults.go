package policy

// Default returns the safe default policy: what runs when the operator gives
// no policy file, and what every key absent from a file keeps. Each call
// returns a new Policy the caller may change.
func Default() *Policy {
	return &Policy{
		Version: 1,
		Limits: Limits{
			DefaultTimeoutS: 30,
			MaxTimeoutS:     300,
			MemoryMB:        512,
			CPUTimeS:        60,
			MaxProcesses:    64,
			MaxCodeBytes:    256 << 10,
			MaxOutputBytes:  64 << 10,
			MaxFileMB:       64,
			MaxOpenFiles:    256,
			MaxConcurrent:   4,
			MaxQueued:       64,
			QueueTimeoutS:   30,
			CallsPerMinute:  120,
			CallBurst:       20,
		},
		Network: Network{
			AllowEgress:     false,
			Allow:           []NetworkRule{},
			Deny:            []NetworkRule{},
			OnUnenforceable: Refuse,
			MaxConnections:  64,
			MaxTransferMB:   256,
		},
		Sessions: Sessions{
			Enabled:       true,
			MaxPerClient:  4,
			MaxTotal:      16,
			IdleTTLS:      900,
			MaxLifetimeS:  14400,
			EndOnShutdown: false,
		},
		Files: Files{
			MaxInMB:          16,
			MaxInCount:       64,
			MaxOutMB:         32,
			MaxOutCount:      64,
			MaxInlineImageKB: 1024,
			TTLS:             3600,
			MaxMountMB:       64,
		},
		Backend: BackendSettings{
			Local: LocalSettings{Python: "", WarmSandboxes: 1, Mounts: []Mount{}},
			Modal: ModalSettings{
				AppName:  "airlock-mcp",
				Image:    "python:3.12-slim",
				CPU:      0.5,
				MemoryMB: 512,
				TimeoutS: 30,
				PoolSize: 0,
				Apt:      []string{},
				Pip:      []string{},
			},
		},
	}
}
