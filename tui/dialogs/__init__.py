"""Modal dialogs: yes/no, the case form, a reason prompt, a text viewer."""
