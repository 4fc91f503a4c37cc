"""cvm.value"""
