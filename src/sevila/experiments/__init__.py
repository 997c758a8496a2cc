"""`sevila experiment`: the paper's tables as named grids of stage runs (stages/experiments/<name>.yaml)."""
