"""Flet views: dumb @ft.component functions that read state through contexts and call its methods."""
