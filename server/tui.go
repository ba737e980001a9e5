package server

// runTUI runs the terminal UI for a session with a PTY. radioName, when
// set, binds the session to that radio without showing the lobby. Until
// the full-screen UI exists it shows the status screen.
func (e *execEnv) runTUI(radioName string) int {
	_ = radioName
	return e.interactive()
}
