package web

import (
	"net/http"
	"time"
)

// SyncProgress is the state of the sync running in this process, which
// the admin page shows and polls (GET /admin/sync/progress).
type SyncProgress struct {
	// Running: a sync is running; the other fields describe it.
	Running bool `json:"running"`
	// Phase is groups, users, memberships, removals or done; "" before
	// the sync reported anything.
	Phase string `json:"phase"`
	// Read counts the directory entries read so far, Applied the users
	// and groups written.
	Read    int `json:"read"`
	Applied int `json:"applied"`
	// StartedAt is when the sync started and StartedBy what started it
	// ("schedule", "admin (alice)").
	StartedAt time.Time `json:"started_at,omitzero"`
	StartedBy string    `json:"started_by,omitempty"`
}

// syncProgressJSON is SyncProgress as the endpoint sends it, with the
// running time worked out by the server.
type syncProgressJSON struct {
	SyncProgress
	Seconds int `json:"seconds"`
}

// syncProgress reads the progress of the running sync; ok is false when
// this server cannot tell (Deps.SyncProgress is nil).
func (s *Server) syncProgress() (p SyncProgress, ok bool) {
	if s.deps.SyncProgress == nil {
		return SyncProgress{}, false
	}
	return s.deps.SyncProgress(), true
}

func (s *Server) adminSyncProgress(w http.ResponseWriter, r *http.Request) {
	p, ok := s.syncProgress()
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{Error: "this server does not report sync progress"})
		return
	}
	out := syncProgressJSON{SyncProgress: p}
	if p.Running && !p.StartedAt.IsZero() {
		out.Seconds = int(time.Since(p.StartedAt).Seconds())
	}
	writeJSON(w, http.StatusOK, out)
}
