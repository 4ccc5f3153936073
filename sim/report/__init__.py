"""Results in words and tables for people: the number formats every output shares and the
text of each command's answer."""
