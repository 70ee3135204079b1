package groupcommit

// QueuedForTest counts the batches waiting for their turn.
func (g *Group[B]) QueuedForTest() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}
