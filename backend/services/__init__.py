"""Use cases: load, check rules, call schedules/, write, commit, return. Each owns its transaction."""
