"""The book's machinery below the notebooks: a page's setup, load-or-run stages, first-run caches, the book build."""
