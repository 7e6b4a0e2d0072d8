"""Learner state, tutor sessions and turns, consumers, prompt assembly and pedagogy policy."""
