print("seatlock")
