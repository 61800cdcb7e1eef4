def main():
    print('geocoder')
