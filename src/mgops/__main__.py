from mgops.cli.main import run

run()
