"""cvm.value.clv"""
