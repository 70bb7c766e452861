package command

func registerZSets(t *Table) {}
