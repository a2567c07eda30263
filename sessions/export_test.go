package sessions

// Reap ends the sessions that have expired by the registry's clock, as its
// reaper does at their expiry.
func (r *Registry) Reap() { r.reap() }
