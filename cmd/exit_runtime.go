package cmd

// classifyRuntime maps errors of runtime/ (launching and calling plugins).
func classifyRuntime(err error) (code int, hint string, ok bool) {
	return 0, "", false
}
