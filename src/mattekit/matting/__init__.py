"""Algorithm blocks shared by the engines: trimaps and RoSTa maps, merge rules, focus solvers, colours."""
