import click


@click.command()
def main():
    click.echo('backing up')


if __name__ == '__main__':
    main()
