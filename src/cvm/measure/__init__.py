"""cvm.measure"""
