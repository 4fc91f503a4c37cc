"""cvm.state"""
