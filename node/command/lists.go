package command

func registerLists(t *Table) {}
