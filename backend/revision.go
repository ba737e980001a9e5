package backend

// Revision changes whenever a responder rule, filter or beacon does, so a
// front end that shows them (the UI's Rules tab, its filtered views) knows
// when to ask again without polling. It is 0 without a database.
func (b *Backend) Revision() uint64 {
	if b.store == nil {
		return 0
	}
	return b.store.Revision()
}
