"""Generation jobs: the database records them, a backend delivers them."""
