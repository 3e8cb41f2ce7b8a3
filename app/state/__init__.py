"""Observable state classes behind the screens; plain Python, testable without a page."""
