"""Evidence for lock entries a test writes itself: the lockfile refuses a digest without any."""

from builder.locking.evidence import Published

TESTED = (Published("the test's own fake upstream"),)
