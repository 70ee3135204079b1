package groupcommit

// QueuedForTest counts the batches waiting for their turn.
func (g *Group) QueuedForTest() int {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	return len(g.queue)
}
