"""cvm.predict"""
