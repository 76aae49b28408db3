from cashmatch.cli import script

script()
