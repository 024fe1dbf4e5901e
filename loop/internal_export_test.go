package loop

// PublishInternal publishes msg on subject in the named account as the
// server does (publishInternal), for tests of that cross-goroutine entry
// point.
func (s *Server) PublishInternal(account, subject string, msg []byte) bool {
	a := s.lookupAccount(account)
	if a == nil {
		return false
	}
	s.publishInternal(a, subject, "", 0, msg)
	return true
}
