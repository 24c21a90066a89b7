"""Settings, the activity's rules file and logging setup."""
