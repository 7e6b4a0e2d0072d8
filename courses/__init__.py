"""Course content, skills graph, checkers, Markdown rendering and course packages."""
