"""Fast tests of the seed-model pipeline's pure parts."""
