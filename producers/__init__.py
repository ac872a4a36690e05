"""What enters: validation, runs and questions stored, chunks published (`salam submit`,
resume)."""
