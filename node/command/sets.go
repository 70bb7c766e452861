package command

func registerSets(t *Table) {}
